"""The central state (CSS): SQLAlchemy models, migrations, and functions over them."""
