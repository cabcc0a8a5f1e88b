"""Where the network's input comes from: image files, drops and the clipboard,
the built-in samples and preprocessing, and the draw pad.

inputs may import panels and style (the draw pad shows its picture in the input
panel); never window, bridge or editor.
"""
