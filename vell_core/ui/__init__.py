"""The Streamlit bridge: cached services, the signed-in user, navigation, live views."""
