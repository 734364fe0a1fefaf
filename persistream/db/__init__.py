from persistream.db.database import Database

__all__ = ["Database"]
