"""The synthetic world: real H.264 videos of coloured shapes doing scripted things, with exact
ground truth, in the file formats of real benchmarks and training sets (see ``docs/synth.md``).

It sits above the video layer (it encodes with :mod:`framescope.video.encode`) and below
everything that reads benchmark or training files; it needs nothing else of framescope.

- :mod:`~framescope.synth.scene`: objects in lanes, events on frame boundaries, the renderer;
- :mod:`~framescope.synth.tasks`: questions with exact answers, and the benchmark files
  (Charades-STA, NExT-GQA, Video-MME, DynFrame DM-RL) that carry them;
- :mod:`~framescope.synth.records`: training rows (DynFrame DM-CoT, VideoMind grounder, planner);
- :mod:`~framescope.synth.world`: :func:`generate_world` writes a whole world, :func:`make_video`
  plans one video, :func:`demo_video` writes the demo's.
"""

from framescope.synth.scene import (
    ALLOWED_FPS,
    BACKGROUND,
    PALETTE,
    SHAPES,
    STOPS,
    Event,
    ObjectState,
    Scene,
    SceneObject,
    SynthError,
    shape_mask,
)
from framescope.synth.tasks import Task, needed_fps
from framescope.synth.world import (
    WORLD_FILES,
    demo_video,
    generate_world,
    make_video,
    write_scene_video,
)

__all__ = [
    "ALLOWED_FPS",
    "BACKGROUND",
    "PALETTE",
    "SHAPES",
    "STOPS",
    "WORLD_FILES",
    "Event",
    "ObjectState",
    "Scene",
    "SceneObject",
    "SynthError",
    "Task",
    "demo_video",
    "generate_world",
    "make_video",
    "needed_fps",
    "shape_mask",
    "write_scene_video",
]
