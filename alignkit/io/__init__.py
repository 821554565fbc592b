"""Input: audio decoding and resampling, scores, annotation files."""
