from lrscan.cli import main

main()
