import sys

from tui.cli import main  # the program: the chat UI, or any other command

sys.exit(main())
