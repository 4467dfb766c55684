"""The napari plugin: the tracking dock widget, prompt layers and sample data.

This is the only package that imports napari, Qt or magicgui; everything it tracks goes through
the scripting API (VideoTracker, ArrayFrames, LabelsStore).
"""
