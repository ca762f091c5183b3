from flaxprec.cli import run

run()
