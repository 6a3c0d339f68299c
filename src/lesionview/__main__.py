"""``python -m lesionview``: the command line (:func:`lesionview.cli.main`)."""

if __name__ == "__main__":
    try:
        from lesionview.cli import main
    except KeyboardInterrupt:  # Ctrl-C in the first milliseconds, before main() handles it
        import sys

        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    main()
