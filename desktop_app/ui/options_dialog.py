"""The dialog that edits every conversion option of one target format."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.client.models import ConversionOptions, FormatInfo

logger = logging.getLogger(__name__)

COMMON_BITRATES = (32, 48, 64, 96, 128, 160, 192, 256, 320)
MP3_VBR_KBPS = {0: 245, 1: 225, 2: 190, 3: 175, 4: 165, 5: 130, 6: 115, 7: 100}
VORBIS_LEVELS = tuple(range(-1, 11))
DEFAULT_FLAC_LEVEL = 5
DEFAULT_LOUDNESS_LUFS = -16.0
DEFAULT_TRUE_PEAK_DB = -1.5
MAX_EDIT_SECONDS = 24 * 3600.0


class OptionsDialog(QDialog):
    """Edits a `ConversionOptions` value for the formats the backend offers.

    Only the controls that apply to the chosen format are shown: the bitrate
    mode for MP3, quality for Vorbis, compression for FLAC, bit depth for the
    lossless formats.
    """

    def __init__(
        self,
        formats: list[FormatInfo],
        options: ConversionOptions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversion options")
        self._formats = {fmt.name: fmt for fmt in formats}
        self._build_widgets()
        self._format_combo.currentIndexChanged.connect(
            self._on_format_combo_current_index_changed
        )
        self._mode_combo.currentIndexChanged.connect(self._update_visible_rows)
        self._loudness_check.toggled.connect(self._update_visible_rows)
        self.set_options(options)

    # -- Public interface ----------------------------------------------------

    def options(self) -> ConversionOptions:
        """Return the options the controls show now."""
        fmt = self._current_format()
        name = fmt.name if fmt else "mp3"
        values: dict[str, Any] = {"format": name}
        if fmt is not None and not fmt.lossless:
            mode = self._mode_combo.currentData() if fmt.bitrate_modes else None
            if name == "vorbis" or mode == "vbr":
                values["quality"] = float(self._quality_combo.currentData())
            else:
                values["bitrate_kbps"] = int(self._bitrate_combo.currentData())
            if fmt.bitrate_modes:
                values["bitrate_mode"] = mode
        if fmt is not None and fmt.compression_levels:
            values["compression_level"] = self._compression_spin.value()
        if fmt is not None and fmt.bit_depths:
            values["bit_depth"] = self._depth_combo.currentData()
        values["sample_rate"] = self._rate_combo.currentData()
        values["channels"] = self._channels_combo.currentData()
        if self._loudness_check.isChecked():
            values["loudness_lufs"] = self._loudness_spin.value()
            values["true_peak_db"] = self._peak_spin.value()
        for key, spin in self._edit_spins.items():
            values[key] = spin.value() or None
        values["keep_metadata"] = self._tags_check.isChecked()
        return ConversionOptions(**values)

    def set_options(self, options: ConversionOptions) -> None:
        """Show `options` in the controls."""
        index = self._format_combo.findData(options.format)
        self._format_combo.setCurrentIndex(max(index, 0))
        self._fill_format_controls()
        mode = options.bitrate_mode or ("vbr" if options.quality is not None else "cbr")
        _select(self._mode_combo, mode)
        if options.quality is not None:
            _select(self._quality_combo, int(options.quality))
        if options.bitrate_kbps is not None:
            _select(self._bitrate_combo, options.bitrate_kbps)
        self._compression_spin.setValue(
            DEFAULT_FLAC_LEVEL
            if options.compression_level is None
            else options.compression_level
        )
        _select(self._depth_combo, options.bit_depth)
        _select(self._rate_combo, options.sample_rate)
        _select(self._channels_combo, options.channels)
        self._loudness_check.setChecked(options.loudness_lufs is not None)
        self._loudness_spin.setValue(
            DEFAULT_LOUDNESS_LUFS
            if options.loudness_lufs is None
            else options.loudness_lufs
        )
        self._peak_spin.setValue(
            DEFAULT_TRUE_PEAK_DB
            if options.true_peak_db is None
            else options.true_peak_db
        )
        for key, spin in self._edit_spins.items():
            spin.setValue(getattr(options, key) or 0.0)
        self._tags_check.setChecked(options.keep_metadata)
        self._update_visible_rows()

    # -- Building --------------------------------------------------------------

    def _build_widgets(self) -> None:
        self._format_combo = QComboBox()
        self._format_combo.setAccessibleName("Output format")
        for fmt in self._formats.values():
            self._format_combo.addItem(fmt.label, fmt.name)
        self._mode_combo = QComboBox()
        self._mode_combo.setAccessibleName("MP3 bitrate mode")
        self._mode_combo.addItem("Variable quality (VBR)", "vbr")
        self._mode_combo.addItem("Average bitrate (ABR)", "abr")
        self._mode_combo.addItem("Constant bitrate (CBR)", "cbr")
        self._bitrate_combo = QComboBox()
        self._bitrate_combo.setAccessibleName("Bitrate")
        self._quality_combo = QComboBox()
        self._quality_combo.setAccessibleName("Quality")
        self._compression_spin = QSpinBox()
        self._compression_spin.setAccessibleName("FLAC compression level")
        self._compression_spin.setToolTip(
            "Higher levels make smaller files and take longer; every level is lossless."
        )
        self._depth_combo = QComboBox()
        self._depth_combo.setAccessibleName("Bit depth")
        self._rate_combo = QComboBox()
        self._rate_combo.setAccessibleName("Sample rate")
        self._channels_combo = QComboBox()
        self._channels_combo.setAccessibleName("Channels")
        self._channels_combo.addItem("Same as source", None)
        self._channels_combo.addItem("Mono", 1)
        self._channels_combo.addItem("Stereo", 2)
        self._tags_check = QCheckBox("Keep tags and cover art")
        self._tags_check.setAccessibleName("Keep tags and cover art")

        self._format_form = QFormLayout()
        self._format_form.addRow("Format:", self._format_combo)
        self._format_form.addRow("Mode:", self._mode_combo)
        self._format_form.addRow("Bitrate:", self._bitrate_combo)
        self._format_form.addRow("Quality:", self._quality_combo)
        self._format_form.addRow("Compression:", self._compression_spin)
        self._format_form.addRow("Bit depth:", self._depth_combo)
        self._format_form.addRow("Sample rate:", self._rate_combo)
        self._format_form.addRow("Channels:", self._channels_combo)
        self._format_form.addRow("", self._tags_check)

        self._loudness_check = QCheckBox("Normalise loudness (EBU R128, two passes)")
        self._loudness_check.setAccessibleName("Normalise loudness")
        self._loudness_spin = _spin(-70.0, -5.0, 0.5, " LUFS", "Loudness target")
        self._loudness_spin.setToolTip("-16 LUFS suits podcasts; -14 LUFS streaming")
        self._peak_spin = _spin(-9.0, 0.0, 0.1, " dBTP", "True peak ceiling")
        loudness_box = QGroupBox("Loudness")
        self._loudness_form = QFormLayout(loudness_box)
        self._loudness_form.addRow(self._loudness_check)
        self._loudness_form.addRow("Target:", self._loudness_spin)
        self._loudness_form.addRow("True peak:", self._peak_spin)

        self._edit_spins = {
            "trim_start_seconds": _spin(0, MAX_EDIT_SECONDS, 0.5, " s", "Trim start"),
            "trim_end_seconds": _spin(0, MAX_EDIT_SECONDS, 0.5, " s", "Trim end"),
            "fade_in_seconds": _spin(0, MAX_EDIT_SECONDS, 0.5, " s", "Fade in"),
            "fade_out_seconds": _spin(0, MAX_EDIT_SECONDS, 0.5, " s", "Fade out"),
        }
        edit_box = QGroupBox("Trim and fade")
        edit_form = QFormLayout(edit_box)
        edit_form.addRow("Cut from start:", self._edit_spins["trim_start_seconds"])
        edit_form.addRow("Cut from end:", self._edit_spins["trim_end_seconds"])
        edit_form.addRow("Fade in:", self._edit_spins["fade_in_seconds"])
        edit_form.addRow("Fade out:", self._edit_spins["fade_out_seconds"])

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self._format_form)
        layout.addWidget(loudness_box)
        layout.addWidget(edit_box)
        layout.addWidget(buttons)

    def _current_format(self) -> FormatInfo | None:
        return self._formats.get(self._format_combo.currentData())

    @Slot(int)
    def _on_format_combo_current_index_changed(self, _index: int) -> None:
        self._fill_format_controls()
        self._update_visible_rows()

    def _fill_format_controls(self) -> None:
        """Refill the lists whose entries depend on the chosen format."""
        fmt = self._current_format()
        if fmt is None:
            return
        self._bitrate_combo.clear()
        for rate in bitrate_choices(fmt):
            self._bitrate_combo.addItem(f"{rate} kbit/s", rate)
        _select(self._bitrate_combo, fmt.default_bitrate_kbps)
        self._quality_combo.clear()
        if fmt.name == "mp3":
            for level, kbps in MP3_VBR_KBPS.items():
                label = f"V{level} (about {kbps} kbit/s)"
                self._quality_combo.addItem(label, level)
            _select(self._quality_combo, 2)
        else:
            for level in VORBIS_LEVELS:
                self._quality_combo.addItem(f"Quality {level}", level)
            _select(self._quality_combo, 5)
        self._compression_spin.setRange(*(fmt.compression_levels or (0, 0)))
        self._depth_combo.clear()
        self._depth_combo.addItem("Same as source", None)
        for depth in fmt.bit_depths or ():
            self._depth_combo.addItem(f"{depth}-bit", depth)
        self._rate_combo.clear()
        self._rate_combo.addItem("Same as source", None)
        for rate in fmt.sample_rates or (22050, 32000, 44100, 48000, 88200, 96000):
            self._rate_combo.addItem(f"{rate / 1000:g} kHz", rate)

    @Slot()
    def _update_visible_rows(self) -> None:
        fmt = self._current_format()
        name = fmt.name if fmt else ""
        lossy = fmt is not None and not fmt.lossless
        has_modes = fmt is not None and bool(fmt.bitrate_modes)
        mode = self._mode_combo.currentData()
        uses_quality = name == "vorbis" or (has_modes and mode == "vbr")
        form = self._format_form
        form.setRowVisible(self._mode_combo, has_modes)
        form.setRowVisible(self._bitrate_combo, lossy and not uses_quality)
        form.setRowVisible(self._quality_combo, lossy and uses_quality)
        form.setRowVisible(
            self._compression_spin, fmt is not None and bool(fmt.compression_levels)
        )
        form.setRowVisible(self._depth_combo, fmt is not None and bool(fmt.bit_depths))
        loudness_on = self._loudness_check.isChecked()
        self._loudness_spin.setEnabled(loudness_on)
        self._peak_spin.setEnabled(loudness_on)


def bitrate_choices(fmt: FormatInfo) -> tuple[int, ...]:
    """Return the bitrates offered for a lossy format, lowest first."""
    if fmt.bitrate_steps:
        return tuple(fmt.bitrate_steps)
    if fmt.bitrate_range is None:
        return ()
    low, high = fmt.bitrate_range
    return tuple(rate for rate in COMMON_BITRATES if low <= rate <= high)


def _spin(
    low: float, high: float, step: float, suffix: str, name: str
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(1)
    spin.setSuffix(suffix)
    spin.setAccessibleName(name)
    return spin


def _select(combo: QComboBox, data: object) -> None:
    """Select the entry whose data equals `data`, if the combo has one."""
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)
