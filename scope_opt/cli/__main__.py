from scope_opt.cli.app import main

main()
