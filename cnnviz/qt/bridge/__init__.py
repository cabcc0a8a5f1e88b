"""The compute bridge: the one long-lived compute thread, its one-slot mailbox
(latest request wins) and the controller that turns document edits into requests.

The only code on the Qt side that talks to ``cnnviz.compute`` (and only
``compute_thread`` imports it, lazily, so torch loads after the window shows).
bridge may import editor, inputs and style; never window or panels.
"""
