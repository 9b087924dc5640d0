# Kinde's Python management client, unchanged, against the emulator over HTTPS, configured only
# by the emulator's env file in the environment (its CA through SSL_CERT_FILE / REQUESTS_CA_BUNDLE).
# ManagementClient takes the domain without a scheme (it prefixes https:// itself).
import os
import sys

from kinde_sdk.management import ManagementClient

domain = os.environ["KINDE_DOMAIN"].removeprefix("https://")
client = ManagementClient(
    domain,
    os.environ["KINDE_MANAGEMENT_CLIENT_ID"],
    os.environ["KINDE_MANAGEMENT_CLIENT_SECRET"],
)
users = client.users_api.get_users(page_size=2)
ok = len(users.users or []) == 2
print(f"{'ok  ' if ok else 'FAIL'} ManagementClient users_api.get_users over https")
sys.exit(0 if ok else 1)
