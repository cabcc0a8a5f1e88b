"""The visual panels (feature maps, filters, pooling, activation, conv stepper,
training, prediction, overview, input image). Each is fed numpy arrays through
``base.PanelInput`` and can run alone (``python -m cnnviz.qt.panels.feature_maps``).

panels import only style and other panels: never window, bridge, editor or
inputs, and never torch.
"""
