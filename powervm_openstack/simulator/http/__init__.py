"""The HTTP front: the WSGI app, the server, routing, and the /sim admin, file and terminal handlers."""
