"""The dock widget's settings rows (widget.py): the image and the axis to track along, the model
(and a checkpoint file), precision, where labels are stored, the cell diameter and mask cleanup."""
from __future__ import annotations

from napari.layers import Image
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton

from ..engine.postprocess import MaskCleanup
from ..storage.axes import says_depth
from .layout import tracking_axes
from .model_choice import CHECKPOINT_FILE, model_choices
from .session import image_data
from .widget_text import TOOLTIPS

PRECISION_CHOICES = ["auto", "float32", "bfloat16"]  # see engine/device.py

GIVEN_MODEL = "model given to the widget"


class SettingsForm(QFormLayout):
    """The settings rows; `owner`: the dock widget (the checkpoint dialog's parent); `given_model`:
    a model was given to the widget, so the menu offers only it."""

    def __init__(self, owner, viewer, given_model: bool):
        super().__init__()
        self.owner, self.viewer = owner, viewer
        self.image_combo, self.axis_combo, self.model_combo = QComboBox(), QComboBox(), QComboBox()
        self.image_combo.currentIndexChanged.connect(lambda index: self.refresh_axes())
        self.model_combo.addItems([GIVEN_MODEL] if given_model else model_choices())
        self.model_combo.setEnabled(not given_model)
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(PRECISION_CHOICES)  # auto first: the default
        self.checkpoint_edit = QLineEdit(placeholderText="checkpoint .pt file")
        self.store_edit = QLineEdit(placeholderText="default: next to the image file, or napari-sam2's data folder")
        self.cleanup_check = QCheckBox("one piece, no holes, grown to the outline; dim: absent; touching cells split")
        self.cleanup_check.setChecked(MaskCleanup().active)  # the engine's default
        checkpoint_row, browse = QHBoxLayout(), QPushButton("Browse...")
        browse.clicked.connect(lambda checked=False: self._browse_checkpoint())
        checkpoint_row.addWidget(self.checkpoint_edit)
        checkpoint_row.addWidget(browse)
        self.diameter_spin = QDoubleSpinBox(minimum=0.0, maximum=100000.0, decimals=1, suffix=" px")
        self.diameter_spin.setSpecialValueText("automatic")  # 0: estimated at Start
        self.depth_check = QCheckBox("the frames are z slices: 3-D labels, no divisions")
        self._depth_of = None  # the image the box was last set for: the user's tick stays while it is chosen
        for label, field in (("Image", self.image_combo), ("Track along", self.axis_combo), ("Z-stack", self.depth_check),
                             ("Model", self.model_combo), ("Checkpoint", checkpoint_row), ("Precision", self.precision_combo),
                             ("Labels store", self.store_edit), ("Cell diameter", self.diameter_spin),
                             ("Clean masks", self.cleanup_check)):
            self.addRow(label, field)
        for name, widget in (("image", self.image_combo), ("axis", self.axis_combo), ("model", self.model_combo),
                             ("checkpoint", self.checkpoint_edit), ("browse", browse), ("store", self.store_edit),
                             ("precision", self.precision_combo), ("cleanup", self.cleanup_check),
                             ("diameter", self.diameter_spin), ("diameter", self.diameter_spin.lineEdit()),
                             ("depth", self.depth_check)):
            widget.setToolTip(TOOLTIPS[name])

    def refresh_images(self, event=None) -> None:
        current = self.image_combo.currentText()
        images = [layer for layer in self.viewer.layers if isinstance(layer, Image)]
        for layer in images:
            layer.events.name.connect(self.refresh_images)  # connecting again is a no-op
        names = [layer.name for layer in images]
        self.image_combo.blockSignals(True)
        self.image_combo.clear()
        self.image_combo.addItems(names)
        if current in names:
            self.image_combo.setCurrentText(current)
        self.image_combo.blockSignals(False)
        self.refresh_axes()

    def chosen_image(self):
        name = self.image_combo.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def refresh_axes(self) -> None:
        """The axes the chosen image can be tracked along (a choice only for 4-D images)."""
        self.axis_combo.clear()
        layer = self.chosen_image()
        if layer is None:
            return
        shape = image_data(layer).shape[: layer.ndim]
        labels = self.viewer.dims.axis_labels[-layer.ndim:]
        for axis in tracking_axes(shape):
            name = f"{labels[axis]}, " if not str(labels[axis]).lstrip("-").isdigit() else ""  # napari's default: a number
            self.axis_combo.addItem(f"axis {axis} ({name}{shape[axis]} frames)", axis)
        self.axis_combo.setEnabled(self.axis_combo.count() > 1)
        if layer is not self._depth_of:  # layers added or renamed (a session's own) leave the user's tick as it is
            self.depth_check.setChecked(says_depth(layer.axis_labels))  # as the store would name it, until told otherwise
            self._depth_of = layer
        self.depth_check.setEnabled(len(shape) == 3)  # a 4-D image's tracked axis is named by its labels

    def chosen_depth(self) -> bool | None:
        """Whether a 3-D image's first axis is z (the Z-stack box); None for other images."""
        return self.depth_check.isChecked() if self.depth_check.isEnabled() else None

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.owner, "SAM 2 checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.checkpoint_edit.setText(path)
            self.model_combo.setCurrentText(CHECKPOINT_FILE)

    def chosen_precision(self) -> str:
        """The precision setting: "auto", "float32" or "bfloat16" (the shown "auto (...)" is "auto")."""
        return PRECISION_CHOICES[self.precision_combo.currentIndex()]

    def chosen_cleanup(self) -> MaskCleanup:
        return MaskCleanup() if self.cleanup_check.isChecked() else MaskCleanup.off()

    def model_key(self) -> tuple[str, str]:
        return self.model_combo.currentText(), self.checkpoint_edit.text()
