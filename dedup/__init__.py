"""newsdedup: group news articles into stories, pick one representative per story, and record
what every other version adds."""

__version__ = "0.1.0"
