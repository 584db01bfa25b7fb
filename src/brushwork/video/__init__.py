"""Painting films: strokes that live on from frame to frame instead of boiling.

A layer above `brushwork.painting`: it reads and writes clips with PyAV, follows the content with
OpenCV's DIS optical flow and paints every frame with one `PaintPipeline`, built once per clip.

    clip.py      what a clip holds and its frames (any container FFmpeg reads, rotation applied)
    flow.py      DIS flow both ways, the forward-backward check, warping, the warping error
    carry.py     moving strokes with the flow; which strokes are dropped, removed, replaced
    stepper.py   one frame after another: a new shot afresh, otherwise carried over and continued
    folder.py    the output folder, frame by frame (what --resume continues from)
    encode.py    painting.mp4 / comparison.mp4 with the clip's sound
    pipeline.py  `VideoPipeline`: all of the above for one clip

    from brushwork.video import VideoPipeline
    film = VideoPipeline.from_pretrained("classic/dry_brush", size=256)("clip.mp4", "out/clip", strokes=1000)
"""

from brushwork.video.carry import CarryConfig
from brushwork.video.clip import is_clip, probe
from brushwork.video.pipeline import FrameProgress, PaintedClip, VideoPipeline

__all__ = ["CarryConfig", "FrameProgress", "PaintedClip", "VideoPipeline", "is_clip", "probe"]
