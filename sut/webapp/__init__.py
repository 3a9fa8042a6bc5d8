"""The web e-services at /: sessions and login (``session``, ``auth``) and the pages (``pages``)."""
