"""The service: the stats core asked in units of work over storage (`stats_service`), the peer
index (`peers`), imports (`ingest`), the demo data (`seed`) and the live hub that tells open
streams of new data (`live`). It imports the core, support, storage and the framework fences;
never an adapter or the server."""
