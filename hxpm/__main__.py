from hxpm.cli.lean import main

main()
