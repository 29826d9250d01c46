"""Running hearthcam's heavy work on a Ray cluster (``cluster: {engine: ray}``, docs/scale.md).

Nothing here is imported by a single-box hearthcam: the app imports it only when the config
names the Ray engine, and Ray only then."""
