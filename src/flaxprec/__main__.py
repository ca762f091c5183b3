from flaxprec.cli import main

main()
