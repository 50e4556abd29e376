"""The data-sharing gateway (LGSP/NGSP-style) in front of the three mock services."""
