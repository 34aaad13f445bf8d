from hxpm.cli.app import main

main()
