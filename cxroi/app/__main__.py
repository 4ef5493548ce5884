"""``python -m cxroi.app``: serve the app (see :func:`cxroi.app.server.main`)."""

from cxroi.app.server import main

if __name__ == "__main__":
    main()
