"""Device URLs to classes: one explicit table, imported lazily so cv2 loads only when used."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from vaxflow.config import DEVICE_SCHEMES

#: (kind, scheme) -> "module:Class". Every scheme in config.DEVICE_SCHEMES has a row here.
DEVICE_TABLE: dict[tuple[str, str], str] = {
    ("scanner", "camera"): "vaxflow.hardware.camera:CameraScanner",
    ("scanner", "serial"): "vaxflow.hardware.serial_scanner:SerialScanner",
    ("scanner", "hid"): "vaxflow.hardware.hid_scanner:HidScanner",
    ("scanner", "sim"): "vaxflow.hardware.sim_scanner:SimScanner",
    ("idcard", "serial"): "vaxflow.hardware.idcard_reader:SerialIdCardReader",
    ("idcard", "sim"): "vaxflow.hardware.sim_idcard:SimIdCardReader",
    ("printer", "tcp"): "vaxflow.hardware.printer:EscposPrinter",
    ("printer", "usb"): "vaxflow.hardware.printer:EscposPrinter",
    ("printer", "serial"): "vaxflow.hardware.printer:EscposPrinter",
    ("printer", "file"): "vaxflow.hardware.printer:EscposPrinter",
    ("printer", "sim"): "vaxflow.hardware.sim_printer:SimPrinter",
}

#: (kind, scheme) -> "module:Class" for URLs that name a device path: `hid://` reads the
#: window's keys, `hid:///dev/input/by-id/...-event-kbd` the scanner's own input device.
PATH_TABLE: dict[tuple[str, str], str] = {
    ("scanner", "hid"): "vaxflow.hardware.evdev_scanner:EvdevScanner",
}


class UnknownDeviceScheme(ValueError):
    """A device URL whose scheme has no driver for that kind of device."""


def device_class(kind: str, url: str) -> type[Any]:
    """The class that drives `url` for a device `kind`; every class takes (url, **options)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    target = DEVICE_TABLE.get((kind, scheme))
    if parts.path not in ("", "/") and (kind, scheme) in PATH_TABLE:
        target = PATH_TABLE[(kind, scheme)]
    if target is None:
        allowed = ", ".join(sorted(DEVICE_SCHEMES.get(kind, ())))
        raise UnknownDeviceScheme(f"no {kind} driver for {url!r}; use one of: {allowed}")
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Any] = getattr(module, class_name)
    return cls


def open_device(kind: str, url: str, **options: Any) -> Any:
    """Construct (not yet open) the device for a URL."""
    return device_class(kind, url)(url, **options)
