"""Which axes of an image file hold the frames, the channels and each frame's plane, from the axis
letters its metadata give: a TIFF's ImageJ or OME metadata (tifffile's `series.axes`; Q, I for a
stack they do not name, S for the samples of an RGB image), or an OME-Zarr image's axes (by type:
T for time, C for channel, then by name: Z, Y, X). One rule for reading the frames
(frames.open_image_frames) and for naming the labels store's axes (storage.tiff_geometry).

- The plane: Y and X (the last two axes where the file names neither).
- Channels: C, or S last (an RGB image's samples). S not last (planar samples) is read as a stack,
  as it always was here.
- Frames: the one axis left of more than one entry (T, Z or unnamed); none: one 2-D image, read as a
  stack of one frame. Axes of one entry (an OME-TIFF's Z=1 of a time-lapse) are fixed at 0. Two or
  more axes left (a time-lapse of z-stacks) are refused: one axis is tracked along; unless one of
  them is projected (`project="Z"`: each time point's maximum-intensity projection along Z is its frame).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

CHANNEL_LETTER = "C"
SAMPLES_LETTER = "S"  # RGB samples: channels when last


@dataclass(frozen=True)
class ImageLayout:
    axes: str  # axis letters (tifffile's, or an OME-Zarr image's as _letter gives them), e.g. "TCYX", "QYX", "YXS"
    shape: tuple[int, ...]
    stack_axis: int | None  # the axis frames are taken along; None: one 2-D image (a stack of one frame)
    channel_axis: int | None
    fixed: dict[int, int] = field(default_factory=dict)  # axes of one entry, at index 0
    projected: int | None = None  # the axis each frame is the maximum along (a z-stack's projection)

    @property
    def depth(self) -> bool:
        """Whether the frames are the slices of a z-stack, as the file says (Z)."""
        return self.stack_axis is not None and self.axes[self.stack_axis] == "Z"

    @property
    def stack_named(self) -> bool:
        """Whether the file says what its frames are along (T or Z), or holds one image; a plain
        multi-page TIFF's (Q, I) does not: read as time unless told (storage.tiff_geometry)."""
        return self.stack_axis is None or self.axes[self.stack_axis] in "TZ"

    @property
    def channel_count(self) -> int:
        return 1 if self.channel_axis is None else int(self.shape[self.channel_axis])

    def channels_as_frames(self) -> ImageLayout:
        """This layout with the channels of one image read as its frames (a stack saved as channels:
        tifffile's ImageJ writer names a plain 3-D stack's first axis C); itself where that is no such image."""
        if self.stack_axis is not None or not self.named_channels:
            return self
        return replace(self, stack_axis=self.channel_axis, channel_axis=None)

    def projected_out(self) -> ImageLayout:
        """The layout of the image with its projected axis gone (the axes after it one lower)."""
        gone = self.projected
        if gone is None:
            return self

        def lower(a):
            return None if a is None else a - (a > gone)
        return ImageLayout(self.axes[:gone] + self.axes[gone + 1:], self.shape[:gone] + self.shape[gone + 1:],
                           lower(self.stack_axis), lower(self.channel_axis), {lower(a): i for a, i in self.fixed.items()})

    @property
    def named_channels(self) -> bool:
        """Whether the channels are a microscope's (C: which holds the cells is not known), not RGB samples."""
        return self.channel_axis is not None and self.axes[self.channel_axis] == CHANNEL_LETTER


def layout_of(axes: str, shape: tuple[int, ...], name: str = "the image", project: str | None = None) -> ImageLayout:
    """The layout (module docstring) of an image with these axis letters and shape, the axis lettered
    `project` (e.g. "Z") projected if given; a ValueError naming `name`, its axes and what to do where
    no one axis can be tracked along."""
    axes, shape = axes.upper(), tuple(int(s) for s in shape)
    if len(axes) != len(shape):
        raise ValueError(f"{name}: axis letters {axes!r} do not match its shape {shape}")
    plane = _plane_axes(axes)
    channel = _channel_axis(axes, shape, name)
    rest = [a for a in range(len(axes)) if a not in plane and a != channel]
    projected = None
    if project is not None:
        if project.upper() not in [axes[a] for a in rest]:
            raise ValueError(f"{name} has no {project.upper()} axis to project (axes {axes}, shape {shape})")
        projected = axes.index(project.upper())
        rest.remove(projected)
    stacks = [a for a in rest if shape[a] > 1]
    if len(stacks) > 1:
        told = ", ".join(f"{axes[a]}={shape[a]}" for a in stacks)
        raise ValueError(f"{name} has more than one axis besides each image's rows, columns and channels ({told}; "
                         f"axes {axes}, shape {shape}): napari-sam2 tracks along one, time or depth. Keep one of "
                         "them: e.g. one z plane or a projection of each z-stack (Fiji: Image > Stacks > Z Project, or "
                         "Image > Hyperstacks > Reduce Dimensionality), then track that"
                         + ("; or track each time point's maximum-intensity projection along Z (--max-projection)"
                            if "Z" in told else ""))
    return ImageLayout(axes, shape, stacks[0] if stacks else None, channel,
                       {a: 0 for a in rest if shape[a] == 1 and a not in stacks}, projected)


def _plane_axes(axes: str) -> tuple[int, int]:
    if "Y" in axes and "X" in axes:
        return axes.index("Y"), axes.index("X")
    last = [a for a in range(len(axes)) if axes[a] != SAMPLES_LETTER][-2:]  # the file names neither
    return last[0], last[1]


def _channel_axis(axes: str, shape: tuple[int, ...], name: str) -> int | None:
    found = [a for a in range(len(axes)) if axes[a] == CHANNEL_LETTER and shape[a] > 1]
    if axes.endswith(SAMPLES_LETTER) and shape[-1] > 1:
        found.append(len(axes) - 1)
    if len(found) > 1:
        raise ValueError(f"{name} has two channel axes (axes {axes}, shape {shape}): save it with one (e.g. each RGB "
                         "image as one grey channel) and track that")
    return found[0] if found else None


@dataclass(frozen=True)
class OmeZarrImage:
    array: object  # the full resolution (a zarr array, read lazily)
    axes: str  # letters as a TIFF's: T, C, Z, Y, X (Q for another axis)
    scale: tuple[float, ...]  # of each axis, at full resolution
    units: tuple[str | None, ...]


def is_ome_zarr(path: str | Path) -> bool:
    """Whether `path` is a Zarr folder (v2 or v3), to be read as an OME-Zarr image."""
    path = Path(path)
    return path.is_dir() and ((path / "zarr.json").is_file() or (path / ".zattrs").is_file())


def ome_zarr_image(path: str | Path) -> OmeZarrImage:
    """An OME-Zarr image (0.4 or 0.5, read with ome-zarr-models): its full resolution and axes; a
    ValueError that says what the folder is where it is no image (labels, a plate, plain Zarr)."""
    import ome_zarr_models
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
        found = ome_zarr_models.open_ome_zarr(group)
    except Exception as error:  # plain Zarr, or metadata that is no OME-Zarr: say what was found
        raise ValueError(f"{path} is a Zarr folder but not an OME-Zarr image (0.4 or 0.5) that can be read "
                         f"({_why_no_image(str(error))}); give a TIFF, or an OME-Zarr image as the specification "
                         "writes it") from error
    kind = type(found).__name__
    if kind != "Image":
        raise ValueError(f"{path} is an OME-Zarr {kind}, not an image: give one image of it (e.g. a well's field "
                         "plate.zarr/A/1/0)")
    attributes = getattr(found.attributes, "ome", found.attributes)  # 0.5 keeps them under "ome"
    multiscale = attributes.multiscales[0]
    dataset = multiscale.datasets[0]  # the full resolution
    scale = next((t.scale for t in dataset.coordinateTransformations if t.type == "scale"), [1.0] * len(multiscale.axes))
    return OmeZarrImage(group[dataset.path], "".join(_letter(axis) for axis in multiscale.axes),
                        tuple(float(v) for v in scale), tuple(axis.unit for axis in multiscale.axes))


def _why_no_image(message: str) -> str:
    """What ome-zarr-models found wrong with the folder as an image (it lists every kind it tried)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    at = [i for i, line in enumerate(lines) if line.endswith(".image.Image")]
    return " ".join(lines[at[0] + 1:at[0] + 3] if at else lines[:1])[:300]


def _letter(axis) -> str:
    """An OME-Zarr axis as a TIFF's axis letter."""
    if axis.type == "time":
        return "T"
    if axis.type == "channel":
        return CHANNEL_LETTER
    return axis.name.upper() if axis.name.lower() in ("x", "y", "z") else "Q"


def image_layout(path: str | Path, series: int = 0, project: str | None = None) -> ImageLayout:
    """The layout of a TIFF file's image `series`, or of an OME-Zarr image (module docstring; the
    axis lettered `project` projected, if given); a ValueError that says what is wrong for a path
    that is no file, or a file that cannot be read as a TIFF image."""
    import tifffile

    if is_ome_zarr(path):
        image = ome_zarr_image(path)
        return layout_of(image.axes, image.array.shape, str(path), project)
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file; give the path of a TIFF image (a time-lapse, a z-stack or one image)")
    if path.is_dir():
        raise ValueError(f"{path} is a folder: give one TIFF file (to track every TIFF of a folder: napari-sam2 batch)")
    try:
        with tifffile.TiffFile(path) as tif:
            every = [(image.axes, image.shape) for image in tif.series]
            if tif.series and _cut_short(tif.series[min(max(series, 0), len(every) - 1)], tif.filehandle.size):
                raise ValueError("its images end before the file says they do")
    except Exception as error:  # not a TIFF, or a truncated or damaged one: tifffile fails in many ways
        raise ValueError(f"{path} cannot be read as a TIFF image ({type(error).__name__}: {error}); is it a TIFF, "
                         "and complete? Open it in Fiji and save it again as TIFF") from error
    if not every:
        raise ValueError(f"{path} holds no image (an empty or damaged TIFF): open it in Fiji and save it again")
    if not 0 <= series < len(every):
        raise ValueError(f"{path} has {len(every)} image series (numbered from 0), not a series {series}")
    return layout_of(*every[series], str(path), project)


def _cut_short(image, file_size: int) -> bool:
    """Whether a TIFF image series ends before its last page or its last pixel (a copy that stopped
    part way, a file still being written): found here, not on the frame where a run would fail."""
    if image.dataoffset is not None:  # one block of pixels (uncompressed)
        return image.dataoffset + image.nbytes > file_size
    try:
        image.pages[len(image.pages) - 1]  # the chain of pages reaches the last one
    except IndexError:
        return True
    return len(image.pages) < image.size // max(image.keyframe.size, 1)  # and holds every plane


def check_channels(layout: ImageLayout, channels: tuple[int, ...] | None, name: str = "the image",
                   frames_possible: bool = True) -> None:
    """Refuses (ValueError, saying what to give) channels the image does not have, and a microscope's
    several channels with none named: which of them shows the cells is the user's to say (the model
    sees one grey image: several channels are merged, the brightest at each pixel; an RGB image's samples
    are taken as they are, an RGB export of a grey stain). frames_possible: the command can read the channels
    of one image as frames (--axis), to say so."""
    count = layout.channel_count
    if channels is None:
        if layout.named_channels:
            frames = "" if layout.stack_axis is not None or not frames_possible else (
                " (or, if they are the frames of a time-lapse or the slices of a z-stack saved as channels, "
                "--axis t or --axis z)")
            raise ValueError(f"{name} has {count} channels (axes {layout.axes}, shape {layout.shape}): say which one "
                             "shows the cells, e.g. --channels 0 (numbered from 0), or up to three to merge (the "
                             f"brightest at each pixel), e.g. --channels 0,1{frames}")
        return
    if not 1 <= len(channels) <= 3 or len(set(channels)) != len(channels):
        raise ValueError(f"--channels {','.join(map(str, channels))}: give one to three different channels")
    wrong = [c for c in channels if not 0 <= c < count]
    if wrong:
        raise ValueError(f"--channels {','.join(map(str, channels))}: {name} has {count} channel"
                         f"{'s' if count > 1 else ''} (numbered 0 to {count - 1}); channel {wrong[0]} is not one of them")
