"""The main window and what hangs on it: docks, menus, status bar, help, settings,
autosave, crash handling, file actions, and the wiring that feeds the panels.

The top of the Qt side: window may import every other role (bridge, editor,
inputs, panels, style), and nothing outside it imports window except
``cnnviz.app``, which starts it.
"""
