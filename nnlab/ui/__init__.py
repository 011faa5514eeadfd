"""Streamlit helpers shared by the pages (the only part of nnlab that imports streamlit)."""
