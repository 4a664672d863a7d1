import sys

from assistant.cli import main  # every command but `chat`, which is the installed `assistant` command's (tui.cli)

sys.exit(main())
