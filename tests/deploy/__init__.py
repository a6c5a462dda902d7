"""Installing and running a real site: init-site, backups, the doctor, the systemd units."""
