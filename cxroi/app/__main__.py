"""``python -m cxroi.app``: serve the app (see :func:`cxroi.app.launch.main`)."""

from cxroi.app.launch import main

if __name__ == "__main__":
    main()
