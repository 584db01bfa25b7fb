"""Many paintings in one run: a folder of photos, on this machine or spread over a Ray cluster.

A layer above `brushwork.painting`; the command line paints through it.

    photos.py   one photo painted and its files written (`paint_photo`), and the line that reports it;
                the sequential run and the Ray workers both paint with it
    sources.py  what the IMAGE arguments name: photos, clips, folders of them; each one's output folder
    ray_run.py  `--ray`: actors that each build one `PaintPipeline` and paint many photos; the files
                travel back through Ray and the driver writes them (imported only with --ray)
"""
