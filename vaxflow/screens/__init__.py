"""What people see: Kivy screens, web boards and translations."""
