"""Generated corpus of broken and hostile inputs (issue #7); nothing binary is committed."""
