"""Looks shared by every role: the light/dark colour scheme and the colour maps.

style is the bottom of the Qt side: it imports no other folder of ``cnnviz.qt``,
so panels can use it without depending on the window.
"""
