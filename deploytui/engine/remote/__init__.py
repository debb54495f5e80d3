"""The on-host format and the commands that read and change it: layout, scans, locks,
switches, release metadata, framed step scripts. Built on hosts/, knows no operation."""
