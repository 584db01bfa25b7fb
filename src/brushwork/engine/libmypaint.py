"""A minimal ctypes binding to libmypaint 1.5/1.6 and a tiled surface whose tiles live in numpy.

Why our own surface: libmypaint's `MyPaintFixedTiledSurface` is a version-1 surface, so the brush
cannot be told the view zoom, which since libmypaint 1.5 scales the brush's speed inputs. To paint
the same stroke at 64 px and at 2048 px we need `mypaint_brush_stroke_to_2(..., viewzoom)`, which
needs a `MyPaintTiledSurface2`. libmypaint implements all of it; we only hand it tile buffers,
allocated (zeroed, i.e. transparent) on first request. Tiles are 64 x 64 premultiplied RGBA uint16
with 1 << 15 meaning 1.0.

Nothing here runs at import: `lib()` loads the shared library on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import signal
import threading
from collections.abc import Iterator

import numpy as np

from brushwork.errors import BrushworkError

TILE = 64  # MYPAINT_TILE_SIZE
ONE = 1 << 15  # fixed-point 1.0 in tile buffers
_SURFACE2_BYTES = 1024  # sizeof(MyPaintTiledSurface2) is 192 on x86_64 for 1.5; leave room for 1.6
_LIB_NAMES = ("libmypaint-1.6.so.1", "libmypaint-1.5.so.1", "libmypaint.so", "libmypaint-1.5.so")
INSTALL_HINT = "install libmypaint: 'sudo apt-get install libmypaint-1.5-1 mypaint-brushes' (Debian/Ubuntu)"


class TileRequest(ctypes.Structure):
    """MyPaintTileRequest."""

    _fields_ = [
        ("tx", ctypes.c_int),
        ("ty", ctypes.c_int),
        ("readonly", ctypes.c_int),
        ("buffer", ctypes.POINTER(ctypes.c_uint16)),
        ("context", ctypes.c_void_p),
        ("thread_id", ctypes.c_int),
        ("mipmap_level", ctypes.c_int),
    ]


TILE_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(TileRequest))
_TILE_PTR = ctypes.POINTER(ctypes.c_uint16)  # a tile's pixels, as libmypaint takes them

# Offsets inside MyPaintTiledSurface2: MyPaintSurface (6 pointers + refcount, padded to 56 bytes),
# then MyPaintSurface2's 3 pointers (-> 80), tile_request_start, tile_request_end, operation_queue,
# then `gboolean threadsafe_tile_requests`.
_THREADSAFE_OFFSET = 80 + 3 * 8


@functools.cache
def lib() -> ctypes.CDLL:
    """Load libmypaint once per process and declare the functions we call."""
    names = list(_LIB_NAMES)
    found = ctypes.util.find_library("mypaint")
    if found:
        names.insert(0, found)
    handle = None
    for name in names:
        try:
            handle = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if handle is None:
        raise BrushworkError(f"the MyPaint brush engine (libmypaint) was not found: {INSTALL_HINT}")

    vp, f, i, d = ctypes.c_void_p, ctypes.c_float, ctypes.c_int, ctypes.c_double
    sigs = {
        "mypaint_brush_new": (vp, []),
        "mypaint_brush_unref": (None, [vp]),
        "mypaint_brush_from_string": (i, [vp, ctypes.c_char_p]),
        "mypaint_brush_from_defaults": (None, [vp]),
        "mypaint_brush_new_stroke": (None, [vp]),
        "mypaint_brush_set_base_value": (None, [vp, i, f]),
        "mypaint_brush_get_base_value": (f, [vp, i]),
        "mypaint_brush_is_constant": (i, [vp, i]),
        "mypaint_brush_setting_from_cname": (i, [ctypes.c_char_p]),
        "mypaint_brush_stroke_to_2": (i, [vp, vp, f, f, f, f, f, d, f, f, f]),
        "mypaint_tiled_surface2_init": (None, [vp, TILE_FUNC, TILE_FUNC]),
        "mypaint_tiled_surface2_destroy": (None, [vp]),
        "mypaint_surface2_end_atomic": (None, [vp, vp]),
        "mypaint_surface_begin_atomic": (None, [vp]),
    }
    for name, sig in sigs.items():
        fn = getattr(handle, name, None)
        if fn is None:
            raise BrushworkError(
                f"libmypaint is too old (no {name}); libmypaint 1.5 or newer is needed: {INSTALL_HINT}"
            )
        fn.restype, fn.argtypes = sig
    return handle


@functools.cache
def setting_id(cname: str) -> int:
    """The libmypaint setting index for a setting's canonical name (-1 if this version lacks it)."""
    return lib().mypaint_brush_setting_from_cname(cname.encode())


class Surface:
    """An unbounded MyPaintTiledSurface2 whose tiles are numpy arrays, transparent at first.

    Use `clear()` between strokes, `read(x0, y0, w, h)` to get premultiplied float RGBA.
    `fill`, if set, makes each tile on its first request: `fill(tx, ty)` -> (64, 64, 4) uint16
    premultiplied RGBA (1 << 15 = 1.0), or None for a transparent one. A smudging brush reads the
    canvas under its dabs, so it is painted on a surface whose tiles start as the painting.
    """

    def __init__(self) -> None:
        self.fill = None
        # (tx0, ty0, tx1, ty1): tiles outside this range are not kept (one scratch tile takes their
        # paint), for strokes whose paint off the canvas is thrown away: a stroke's window may be
        # twice the canvas, and keeping every tile it touches cost GBs
        self.clip: tuple[int, int, int, int] | None = None
        self._scratch = np.zeros((TILE, TILE, 4), dtype=np.uint16)
        self._lib = lib()
        self._mem = ctypes.create_string_buffer(_SURFACE2_BYTES)
        self.ptr = ctypes.addressof(self._mem)
        self.tiles: dict[tuple[int, int], np.ndarray] = {}
        # keep the callbacks referenced for the surface's lifetime: ctypes frees them otherwise
        self._start_cb = TILE_FUNC(self._tile_request_start)
        self._end_cb = TILE_FUNC(self._tile_request_end)
        self._lib.mypaint_tiled_surface2_init(self.ptr, self._start_cb, self._end_cb)
        # process tiles serially: our callbacks are Python, and serial order is deterministic
        ctypes.c_int.from_address(self.ptr + _THREADSAFE_OFFSET).value = 0

    def _tile_request_start(self, _surface: int, request_p) -> None:
        req = request_p.contents
        key = (req.tx, req.ty)
        tile = self.tiles.get(key)
        c = self.clip
        if tile is None and c is not None and not (c[0] <= req.tx < c[2] and c[1] <= req.ty < c[3]):
            req.buffer = ctypes.cast(self._scratch.ctypes.data, _TILE_PTR)
            return
        if tile is None:
            made = self.fill(*key) if self.fill is not None else None
            tile = np.zeros((TILE, TILE, 4), dtype=np.uint16) if made is None else np.array(made, np.uint16)
            self.tiles[key] = tile
        # cast from the address, not `tile.ctypes.data_as`: that builds a reference cycle holding the
        # 32 KB tile until a full garbage collection, which a poster's level outruns by ~0.8 GB
        req.buffer = ctypes.cast(tile.ctypes.data, _TILE_PTR)

    def _tile_request_end(self, _surface: int, _request_p) -> None:
        pass

    def begin_atomic(self) -> None:
        self._lib.mypaint_surface_begin_atomic(self.ptr)

    def end_atomic(self) -> None:
        self._lib.mypaint_surface2_end_atomic(self.ptr, None)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """begin_atomic ... end_atomic with Python signal handlers held until libmypaint returns."""
        with hold_signals():
            self.begin_atomic()
            try:
                yield
            finally:
                self.end_atomic()

    def clear(self) -> None:
        self.tiles.clear()
        self.fill = None
        self.clip = None

    def read(self, x0: int, y0: int, width: int, height: int, channels: slice = slice(0, 4)) -> np.ndarray:
        """Premultiplied RGBA of a rectangle as float32 (height, width, 4) in [0, 1] (or `channels` of it)."""
        out = np.zeros((height, width, len(range(4)[channels])), dtype=np.float32)
        tiles = self.tiles.items()
        if self.fill is not None:  # tiles never requested are still the fill's
            keys = [(tx, ty) for ty in range(y0 // TILE, -(-(y0 + height) // TILE))
                    for tx in range(x0 // TILE, -(-(x0 + width) // TILE))]  # fmt: skip
            tiles = [(k, self.tiles[k] if k in self.tiles else self.fill(*k)) for k in keys]
        for (tx, ty), tile in tiles:
            # intersect tile (tx*64 .. +64, ty*64 .. +64) with the rectangle
            ax0, ay0 = tx * TILE, ty * TILE
            cx0, cy0 = max(ax0, x0), max(ay0, y0)
            cx1, cy1 = min(ax0 + TILE, x0 + width), min(ay0 + TILE, y0 + height)
            if cx0 >= cx1 or cy0 >= cy1:
                continue
            out[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = tile[cy0 - ay0 : cy1 - ay0, cx0 - ax0 : cx1 - ax0, channels]
        out *= 1.0 / ONE
        return out

    def close(self) -> None:
        """Free the C surface now (callers do it inside `hold_signals`: see there); idempotent."""
        if getattr(self, "ptr", None):
            ptr, self.ptr = self.ptr, None
            self._lib.mypaint_tiled_surface2_destroy(ptr)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def hold_signals() -> Iterator[None]:
    """Run Python's SIGINT/SIGTERM handlers after the block instead of inside it.

    Python runs a signal's handler at the next bytecode of the main thread, which is often inside
    our tile callbacks or a `__del__` freeing a brush; ctypes and the garbage collector print and
    drop an exception raised there (a KeyboardInterrupt, the CLI's Terminated), so Ctrl-C or SIGTERM
    was lost and painting went on. Within the block a handler only records the signal; the real one
    is called once the block ends. The engine holds signals for one stroke at a time (brush made,
    stroke painted, brush freed), so Ctrl-C is answered between strokes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers only ever run in the main thread
        return
    caught: list[int] = []
    held = {s: signal.getsignal(s) for s in _HELD_SIGNALS}
    held = {s: h for s, h in held.items() if callable(h)}  # SIG_DFL / SIG_IGN act in C, never in a callback
    for s in held:
        signal.signal(s, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for s, h in held.items():
            signal.signal(s, h)
        for signum in dict.fromkeys(caught):
            held[signum](signum, None)


@functools.cache
def _mallopt():
    """glibc's mallopt, or None elsewhere."""
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    return fn


_M_PERTURB = -6


def _new_brush_zeroed(handle: ctypes.CDLL) -> int:
    """mypaint_brush_new() with its malloc'd memory zero-filled.

    libmypaint 1.5/1.6 read a brush's cached setting values (tracking noise, slow tracking)
    during the first two motion events, before they are ever computed, i.e. from whatever the
    allocator left there. Garbage tracking noise draws from the brush's random generator and
    shifts every later jitter, so the same stroke painted twice came out differently. glibc's
    M_PERTURB makes malloc fill new blocks with the complement of the given byte: 0xFF -> zeros,
    for exactly this one allocation.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return handle.mypaint_brush_new()
    mallopt(_M_PERTURB, 0xFF)
    try:
        return handle.mypaint_brush_new()
    finally:
        mallopt(_M_PERTURB, 0)


class Brush:
    """A libmypaint brush made from a .myb JSON string. Owns its C object."""

    def __init__(self, myb_json: bytes) -> None:
        self._lib = lib()
        self.ptr = _new_brush_zeroed(self._lib)
        if not self._lib.mypaint_brush_from_string(self.ptr, myb_json):
            self._lib.mypaint_brush_unref(self.ptr)
            self.ptr = None
            raise BrushworkError("libmypaint could not parse the brush file")

    def set_base_value(self, cname: str, value: float) -> None:
        sid = setting_id(cname)
        if sid >= 0:
            self._lib.mypaint_brush_set_base_value(self.ptr, sid, value)

    def get_base_value(self, cname: str) -> float:
        sid = setting_id(cname)
        return self._lib.mypaint_brush_get_base_value(self.ptr, sid) if sid >= 0 else 0.0

    def is_constant(self, cname: str) -> bool:
        sid = setting_id(cname)
        return bool(self._lib.mypaint_brush_is_constant(self.ptr, sid)) if sid >= 0 else True

    def close(self) -> None:
        """Free the C brush now (callers do it inside `hold_signals`: see there); idempotent."""
        if getattr(self, "ptr", None):
            ptr, self.ptr = self.ptr, None
            self._lib.mypaint_brush_unref(ptr)

    def __del__(self) -> None:
        self.close()
