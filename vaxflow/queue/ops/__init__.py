"""Operations: one transaction each (load, decide with the core, save, events); read views."""
