"""The synthetic world's scene model: coloured shapes in lanes, scripted events on frame boundaries,
and a numpy renderer.

Every object keeps its own horizontal lane, so objects never overlap and each pixel belongs to at
most one object: the state of every object at every frame (opacity, colour, position) is a pure
function of the script, and a decoded frame can be checked against it. Each shape occurs at most
once per video, so "the circle" always names one object whatever its colour.

Event times are integer frame indices ``[start_frame, end_frame]``; ``Event.window`` gives them in
seconds (``frame / fps``). The frame at ``start_frame`` shows the state before the event, the frame
at ``end_frame`` the state after it:

- ``appear`` / ``disappear``: the object fades in / out (opacity 0 → 1 / 1 → 0) over the window;
- ``colour``: the colour blends from ``from_colour`` to ``to_colour`` over the window;
- ``move``: the object slides in a straight line from stop ``from_stop`` to stop ``to_stop``;
- ``blink``: ``count`` blinks, one every ``period`` frames; in each the object is hidden for ``off``
  frames, starting at ``start_frame``; the window ends when it reappears after the last blink.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from framescope.errors import FramescopeError
from framescope.types import Window

# Colours far apart in RGB, and still after H.264's 4:2:0 chroma subsampling.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 225, 40),
    "green": (40, 190, 60),
    "cyan": (40, 205, 225),
    "blue": (50, 80, 235),
    "purple": (150, 60, 210),
    "white": (235, 235, 235),
}
SHAPES = ("circle", "square", "triangle", "star", "ring")
# Named positions along a lane, at 1/8, 3/8, 5/8 and 7/8 of the width.
STOPS = ("far left", "centre left", "centre right", "far right")
BACKGROUND = (28, 28, 36)
EVENT_KINDS = ("appear", "disappear", "move", "colour", "blink")
# Frame rates whose frame times all have exact two-decimal forms ("12.30"), as the annotation
# formats write them, and that allow 2-4 Hz blinks hidden and shown for >= 2 frames each.
ALLOWED_FPS = (10, 20, 25, 50)
TRANSITION_S = 1.0  # fades and colour blends take this long
MIN_BLINK_HZ, MAX_BLINK_HZ = 2.0, 4.0  # >= 2 Hz: a 1 fps sampler cannot count >= 3 blinks
SLOW_FRACTION = 0.4  # a move covering at least this share of the video is a slow move


class SynthError(FramescopeError, ValueError):
    """A synthetic world cannot be made as asked (bad size, rate, duration, counts, folder)."""


@dataclass(frozen=True)
class SceneObject:
    """One shape in its lane; ``colour``, ``stop`` and ``visible`` are its state at frame 0."""

    id: str
    shape: str
    colour: str
    radius: int  # pixels; the sprite is (2 radius + 1) square
    lane: int
    y: int  # centre row of the lane
    stop: int  # index into STOPS
    visible: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Event:
    """A scripted change of one object over frames ``[start_frame, end_frame]`` of a video."""

    id: str
    kind: str  # one of EVENT_KINDS
    object_id: str
    start_frame: int
    end_frame: int
    fps: int
    description: str  # the templated query, e.g. "the green triangle turns yellow"
    from_colour: str | None = None  # colour
    to_colour: str | None = None
    from_stop: int | None = None  # move
    to_stop: int | None = None
    count: int | None = None  # blink: number of blinks
    period: int | None = None  # blink: frames from one blink to the next
    off: int | None = None  # blink: frames hidden per blink

    @property
    def window(self) -> Window:
        """The event's exact span in absolute seconds."""
        return Window(self.start_frame / self.fps, self.end_frame / self.fps)

    @property
    def rate(self) -> float | None:
        """Blinks per second (blink events only)."""
        return self.fps / self.period if self.period else None

    def hidden(self, frame: int) -> bool:
        """Whether a blink event hides its object at ``frame``."""
        if self.kind != "blink" or not self.start_frame <= frame < self.end_frame:
            return False
        assert self.period is not None and self.off is not None
        return (frame - self.start_frame) % self.period < self.off

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields that apply to this kind, plus the window in seconds."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["start"], out["end"] = round(self.window.start, 6), round(self.window.end, 6)
        if self.kind == "move":
            assert self.from_stop is not None and self.to_stop is not None
            out["from_position"], out["to_position"] = STOPS[self.from_stop], STOPS[self.to_stop]
        if self.kind == "blink":
            out["rate"] = round(self.fps / (self.period or 1), 6)
        return out


@dataclass(frozen=True)
class ObjectState:
    """What one object looks like at one frame."""

    alpha: float  # 0 hidden, 1 fully drawn
    rgb: tuple[float, float, float]
    x: float  # centre column (pixels)
    y: int  # centre row
    colour: str | None  # palette name, or None in the middle of a colour blend


@dataclass(frozen=True)
class Scene:
    """One synthetic video: size, rate, objects and their events (sorted by start)."""

    video_id: str
    width: int
    height: int
    fps: int
    num_frames: int
    objects: tuple[SceneObject, ...]
    events: tuple[Event, ...]

    @property
    def duration(self) -> float:
        """Seconds: the end of the last frame's display interval."""
        return self.num_frames / self.fps

    def object(self, object_id: str) -> SceneObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(object_id)

    def events_of(self, object_id: str) -> list[Event]:
        return [e for e in self.events if e.object_id == object_id]

    def is_slow(self, event: Event) -> bool:
        """A move over at least ``SLOW_FRACTION`` of the video (described as moving "slowly")."""
        return event.kind == "move" and (
            event.end_frame - event.start_frame >= SLOW_FRACTION * self.num_frames
        )

    def stop_x(self, stop: float) -> float:
        """Centre column of a (possibly fractional) stop index."""
        return (2 * stop + 1) * self.width / 8

    def state(self, object_id: str, frame: int) -> ObjectState:
        """The exact state of an object at ``frame``: its events applied in order."""
        obj = self.object(object_id)
        alpha = 1.0 if obj.visible else 0.0
        colour: str | None = obj.colour
        rgb = tuple(float(c) for c in PALETTE[obj.colour])
        stop = float(obj.stop)
        for ev in self.events_of(object_id):
            if frame < ev.start_frame:
                break  # an object's events never overlap, so later ones have not started
            p = min(1.0, (frame - ev.start_frame) / (ev.end_frame - ev.start_frame))
            if ev.kind == "appear":
                alpha = p
            elif ev.kind == "disappear":
                alpha = 1.0 - p
            elif ev.kind == "colour":
                assert ev.from_colour is not None and ev.to_colour is not None
                a, b = PALETTE[ev.from_colour], PALETTE[ev.to_colour]
                rgb = tuple(x + (y - x) * p for x, y in zip(a, b))
                colour = ev.to_colour if p >= 1 else (ev.from_colour if p <= 0 else None)
            elif ev.kind == "move":
                assert ev.from_stop is not None and ev.to_stop is not None
                stop = ev.from_stop + (ev.to_stop - ev.from_stop) * p
            elif ev.kind == "blink":
                alpha = 0.0 if ev.hidden(frame) else 1.0
        return ObjectState(alpha, rgb, self.stop_x(stop), obj.y, colour)  # type: ignore[arg-type]

    def render(self, frame: int) -> np.ndarray:
        """Frame ``frame`` as ``(H, W, 3)`` uint8 RGB."""
        image = np.empty((self.height, self.width, 3), dtype=np.uint8)
        image[:] = BACKGROUND
        bg = np.asarray(BACKGROUND, dtype=np.float64)
        for obj in self.objects:
            st = self.state(obj.id, frame)
            if st.alpha <= 0:
                continue
            r = obj.radius
            cx = math.floor(st.x + 0.5)
            colour = np.floor(bg + st.alpha * (np.asarray(st.rgb) - bg) + 0.5).astype(np.uint8)
            region = image[st.y - r : st.y + r + 1, cx - r : cx + r + 1]
            region[shape_mask(obj.shape, r)] = colour
        return image

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame in order (rendered lazily, for the encoder)."""
        for f in range(self.num_frames):
            yield self.render(f)

    def footprint(self, object_id: str, frame: int) -> np.ndarray:
        """``(H, W)`` bool: the pixels the object covers at ``frame`` when drawn."""
        obj, st = self.object(object_id), self.state(object_id, frame)
        out = np.zeros((self.height, self.width), dtype=bool)
        r, cx = obj.radius, math.floor(st.x + 0.5)
        out[st.y - r : st.y + r + 1, cx - r : cx + r + 1] = shape_mask(obj.shape, r)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frame_count": self.num_frames,
            "duration": round(self.duration, 6),
            "background": list(BACKGROUND),
            "objects": [o.to_dict() for o in self.objects],
            "events": [e.to_dict() for e in self.events],
        }


def _polygon(points: list[tuple[float, float]], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test for every (xs, ys) pixel centre."""
    inside = np.zeros(xs.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        crosses = (y0 > ys) != (y1 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (xs < x_at)
    return inside


@functools.lru_cache(maxsize=256)
def shape_mask(shape: str, radius: int) -> np.ndarray:
    """``(2r+1, 2r+1)`` bool sprite of a shape centred in its box (read-only, cached)."""
    r = radius
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    d = np.hypot(xs, ys)
    mask: np.ndarray
    if shape == "circle":
        mask = d <= r
    elif shape == "ring":
        mask = (d <= r) & (d >= 0.5 * r)
    elif shape == "square":
        mask = np.maximum(abs(xs), abs(ys)) <= 0.8 * r
    elif shape == "triangle":
        angles = [-90, 30, 150]
        mask = _polygon([_polar(r, a) for a in angles], xs, ys)
    elif shape == "star":
        points = [_polar(r if k % 2 == 0 else 0.45 * r, -90 + 36 * k) for k in range(10)]
        mask = _polygon(points, xs, ys)
    else:
        raise SynthError(f"unknown shape {shape!r}; choose from {SHAPES}")
    mask.setflags(write=False)
    return mask


def _polar(r: float, degrees: float) -> tuple[float, float]:
    return r * math.cos(math.radians(degrees)), r * math.sin(math.radians(degrees))


# --- writing a scene's script -------------------------------------------------------------------

ROLES = ("blinker", "slow_mover", "appearer", "changer", "mover")
MIN_SECONDS, MAX_SECONDS = 15, 3600
MIN_OBJECTS, MAX_OBJECTS = 3, len(SHAPES)
MIN_RADIUS = 6  # smaller sprites lose their shape and colour to 4:2:0 chroma


@dataclass(frozen=True)
class _Step:
    """One event of an object's script before it has a time."""

    kind: str
    frames: int
    to_colour: str | None = None
    to_stop: int | None = None
    count: int | None = None
    period: int | None = None
    off: int | None = None


def check_config(seconds: int, fps: int, width: int, height: int, num_objects: int) -> int:
    """Validate a video's settings; return the largest sprite radius they allow."""
    if not isinstance(fps, int) or fps not in ALLOWED_FPS:
        raise SynthError(
            f"fps must be one of {ALLOWED_FPS} (frame times then have exact two-decimal forms), got {fps!r}"
        )
    if not isinstance(seconds, int) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SynthError(
            f"video length must be whole seconds in [{MIN_SECONDS}, {MAX_SECONDS}], got {seconds!r}"
        )
    if not isinstance(num_objects, int) or not MIN_OBJECTS <= num_objects <= MAX_OBJECTS:
        raise SynthError(
            f"objects per video must be in [{MIN_OBJECTS}, {MAX_OBJECTS}], got {num_objects!r}"
        )
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, int) or v <= 0 or v % 2:
            raise SynthError(f"{name} must be a positive even number of pixels (4:2:0), got {v!r}")
    radius = math.floor(min(0.4 * height / num_objects, 0.1 * width))
    if radius < MIN_RADIUS:
        raise SynthError(
            f"a {width}x{height} frame is too small for {num_objects} objects "
            f"(sprites would be {radius} px; need {MIN_RADIUS})"
        )
    return radius


def plan_scene(
    video_id: str,
    rng: np.random.Generator,
    *,
    seconds: int,
    fps: int = 10,
    width: int = 320,
    height: int = 240,
    num_objects: int = 3,
    roles: tuple[str, ...] | None = None,
) -> Scene:
    """Draw a scene: ``num_objects`` shapes and a script of events, all from ``rng``.

    Every video has a *blinker* (a short dense burst of 3-6 blinks at 2-4 Hz, maybe a colour change)
    and a *slow mover* (one move over 50-65 % of the video); the others are drawn from *appearer*
    (appears, maybe moves, maybe disappears), *changer* (changes colour and moves) and *mover*
    (moves one way, then back). At least two objects start hidden and appear. ``roles`` fixes the
    roles instead (one object per role).
    """
    if roles is not None:
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise SynthError(f"unknown roles {bad}; choose from {ROLES}")
        num_objects = len(roles)
    rmax = check_config(seconds, fps, width, height, num_objects)
    if roles is None:
        extras = [str(r) for r in rng.permutation(["appearer", "changer", "mover"])]
        roles = ("blinker", "slow_mover", *(extras * 2)[: num_objects - 2])
    n, total = len(roles), seconds * fps
    shapes = [str(s) for s in rng.permutation(SHAPES)[:n]]
    colours = [str(c) for c in rng.permutation(list(PALETTE))[:n]]
    lanes = [int(v) for v in rng.permutation(n)]
    hidden = [role == "appearer" or bool(rng.random() < 0.4) for role in roles]
    while sum(hidden) < 2:  # "what appears first" needs two appearances
        hidden[int(rng.choice([i for i in range(n) if not hidden[i]]))] = True

    objects: list[SceneObject] = []
    # (start frame, object id, step, colour before it, stop before it, shape)
    drafts: list[tuple[int, str, _Step, str, int, str]] = []
    for i, role in enumerate(roles):
        obj = SceneObject(
            id=f"o{lanes[i]}",
            shape=shapes[i],
            colour=colours[i],
            radius=int(rng.integers(max(MIN_RADIUS, round(0.75 * rmax)), rmax + 1)),
            lane=lanes[i],
            y=math.floor((lanes[i] + 0.5) * height / n),
            stop=int(rng.integers(len(STOPS))),
            visible=not hidden[i],
        )
        objects.append(obj)
        steps = _script(role, obj, rng, fps, total, avoid=set(colours))
        starts = _place([s.frames for s in steps], fps, total - fps, gap=fps, rng=rng)
        colour, stop = obj.colour, obj.stop
        for start, step in zip(starts, steps):
            drafts.append((start, obj.id, step, colour, stop, obj.shape))
            colour = step.to_colour or colour
            stop = step.to_stop if step.to_stop is not None else stop

    drafts.sort(key=lambda d: (d[0], d[1]))
    events = tuple(
        _event(f"e{k}", oid, start, step, colour, stop, shape, fps, total)
        for k, (start, oid, step, colour, stop, shape) in enumerate(drafts)
    )
    return Scene(
        video_id, width, height, fps, total, tuple(sorted(objects, key=lambda o: o.lane)), events
    )


def _script(
    role: str, obj: SceneObject, rng: np.random.Generator, fps: int, total: int, avoid: set[str]
) -> list[_Step]:
    """An object's events in order, with targets chosen from its state before each."""
    stop, colour = obj.stop, obj.colour
    fade = round(TRANSITION_S * fps)
    steps: list[_Step] = [] if obj.visible else [_Step("appear", fade)]

    def move(slow: bool = False, direction: int = 0) -> _Step:
        nonlocal stop
        far = 2 if slow else 1
        targets = [
            s
            for s in range(len(STOPS))
            if abs(s - stop) >= far and (direction == 0 or (s - stop) * direction > 0)
        ]
        frames = (
            int(rng.integers(round(0.5 * total), round(0.65 * total) + 1))
            if slow
            else int(rng.integers(2 * fps, 4 * fps + 1))
        )
        stop = int(rng.choice(targets))
        return _Step("move", frames, to_stop=stop)

    def change() -> _Step:
        nonlocal colour
        fresh = [c for c in PALETTE if c != colour and c not in avoid]
        colour = str(rng.choice(fresh or [c for c in PALETTE if c != colour]))
        return _Step("colour", fade, to_colour=colour)

    def blink() -> _Step:
        # hidden and shown for >= 2 frames each: sampling at the video's own rate, rounded to an
        # even frame count, then still lands in every phase
        periods = [p for p in range(4, fps + 1) if MIN_BLINK_HZ <= fps / p <= MAX_BLINK_HZ]
        period, count = int(rng.choice(periods)), int(rng.integers(3, 7))
        off = period // 2
        return _Step("blink", (count - 1) * period + off, count=count, period=period, off=off)

    if role == "blinker":
        if rng.random() < 0.5:
            steps.append(blink())
        elif rng.random() < 0.5:
            steps += [change(), blink()]
        else:
            steps += [blink(), change()]
    elif role == "slow_mover":
        steps.append(move(slow=True))
    elif role == "appearer":
        if rng.random() < 0.5:
            steps.append(move())
        if rng.random() < 0.7:
            steps.append(_Step("disappear", fade))
    elif role == "changer":
        steps += [change(), move()] if rng.random() < 0.5 else [move(), change()]
    else:  # mover: there and back, so the two moves have different descriptions
        first = move()
        assert first.to_stop is not None
        steps += [first, move(direction=-1 if first.to_stop > obj.stop else 1)]
    return steps


def _place(durations: list[int], lo: int, hi: int, gap: int, rng: np.random.Generator) -> list[int]:
    """Random start frames for back-to-back events inside ``[lo, hi]``, at least ``gap`` apart."""
    slack = hi - lo - sum(durations) - gap * (len(durations) - 1)
    if slack < 0:
        raise SynthError("the video is too short for its script; make it longer")
    cuts = np.sort(rng.integers(0, slack + 1, size=len(durations)))
    starts, t, prev = [], lo, 0
    for d, cut in zip(durations, cuts):
        t += int(cut) - prev
        prev = int(cut)
        starts.append(t)
        t += d + gap
    return starts


def _event(
    event_id: str,
    object_id: str,
    start: int,
    step: _Step,
    colour: str,
    stop: int,
    shape: str,
    fps: int,
    total: int,
) -> Event:
    """The event of ``step`` for an object whose colour and stop before it are given."""
    name = f"the {colour} {shape}"
    if step.kind == "move":
        assert step.to_stop is not None
        way = "from left to right" if step.to_stop > stop else "from right to left"
        slowly = "slowly " if step.frames >= SLOW_FRACTION * total else ""
        text = f"{name} {slowly}moves {way}"
    else:
        text = {
            "appear": f"{name} appears",
            "disappear": f"{name} disappears",
            "colour": f"{name} turns {step.to_colour}",
            "blink": f"{name} blinks",
        }[step.kind]
    return Event(
        id=event_id,
        kind=step.kind,
        object_id=object_id,
        start_frame=start,
        end_frame=start + step.frames,
        fps=fps,
        description=text,
        from_colour=colour if step.kind == "colour" else None,
        to_colour=step.to_colour,
        from_stop=stop if step.kind == "move" else None,
        to_stop=step.to_stop,
        count=step.count,
        period=step.period,
        off=step.off,
    )
