"""The network editor: the document (stack, input, kernels), its undo commands,
and the widgets that edit it (stack view, palette, properties, parameter fields).

editor imports only ``cnnviz.core`` and style: never window, bridge, inputs or
panels, so the document and its commands can be tested without a window.
"""
