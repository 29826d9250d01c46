"""hearthcam: self-hosted home security cameras that keep the footage private."""
