"""The dashboard's shared Streamlit code: cached resources, URL state, widgets. Only this package
and the pages import streamlit; ``embedlab`` never does."""
