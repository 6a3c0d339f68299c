from lesionview.cli import main

main()
