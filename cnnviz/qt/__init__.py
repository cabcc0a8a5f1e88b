"""The Qt side of cnnviz: it shows and edits, and never imports torch.

One folder per role; imports only point down this list:

- ``window``: the main window and what hangs on it (docks, menus, status bar,
  help, settings, autosave, crash handling, file actions, panel wiring).
- ``bridge``: the only code that talks to the compute thread.
- ``editor``: the document, its undo commands and the stack/palette/properties widgets.
- ``inputs``: where the network's input comes from (image files and drops, draw pad).
- ``panels``: the visual panels; each is fed numpy arrays and runs alone.
- ``style``: colour scheme and colour maps, shared by all of the above.

``tests/test_layering.py`` checks these directions.
"""
