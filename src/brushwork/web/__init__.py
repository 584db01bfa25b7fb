"""`brushwork serve`: a local web app to paint a photo and watch the brush paint it.

`app` holds the app object and its routes (Starlette, server-sent events), `jobs` the painting queue,
`static/` the page. Needs the `web` extra (`pip install 'brushwork[web]'`); importing this package
alone imports nothing heavy.
"""

REQUIRES = ("starlette", "uvicorn", "multipart")  # import names of the `web` extra's packages
