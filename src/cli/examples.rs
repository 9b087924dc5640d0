//! The EXAMPLES section of each command's help: real command lines, as gh shows them.

pub const TOKEN: &str = "\
Examples:
  cargo kinde token                                   # M2M token for the Management API
  cargo kinde token --audience https://api.acme.com --decode
  curl -H \"Authorization: Bearer $(cargo kinde token)\" https://acme.kinde.com/api/v1/users
  cargo kinde token --user --json                     # a user token (browser sign-in once)
  cargo kinde token --as alice@example.com --org org_acme --permission read:orders \\
    --audience https://api.acme.test                  # minted by the emulator, no browser
  cargo kinde token --as alice@example.com --audience https://api.acme.test --forge expired";
pub const VERIFY: &str = "\
Examples:
  cargo kinde token | cargo kinde verify
  cargo kinde verify \"$TOKEN\" --audience https://api.acme.com --scope read:orders
  cargo kinde verify --json - < token.txt";
pub const REGISTER: &str = "\
Examples:
  cargo kinde register --dry-run                      # show the plan, change nothing
  cargo kinde register                                # show the plan, ask, apply
  cargo kinde register --yes --prune                  # in CI: apply, remove what kinde.toml drops";
pub const API: &str = "\
Examples:
  cargo kinde api GET /users -q page_size=5 | jq '.users[].email'
  cargo kinde api POST /apis -F name='Acme API' -F audience=https://api.acme.com
  cargo kinde api PATCH 'user?id=kp_123' -F is_suspended=true
  cargo kinde api GET /api/v1/new-endpoint --no-check  # a path the bundled spec lacks";
pub const INIT: &str = "\
Examples:
  cargo kinde init                                    # asks for what it needs
  cargo kinde init --no-input --domain https://acme.kinde.com
  cargo kinde init --emulator                         # try it with no Kinde account";
pub const LOGIN: &str = "\
Examples:
  cargo kinde login
  cargo kinde login --no-browser --scope 'openid email profile'
  cargo kinde login --json --show-refresh-token";
pub const LOGOUT: &str = "\
Examples:
  cargo kinde logout
  cargo kinde logout --everywhere                     # also end the browser session";
pub const SMOKE: &str = "\
Examples:
  cargo kinde smoke
  cargo kinde smoke --emulator                        # against a local Kinde
  cargo kinde smoke --format junit --output smoke.xml";
pub const CONFIG: &str = "\
Examples:
  cargo kinde config
  cargo kinde config --profile staging --json";
#[cfg(feature = "emulator")]
pub const EMULATOR: &str = "\
Examples:
  cargo kinde emulator                                # https://127.0.0.1:5380
  cargo kinde emulator --port 0 --env-file .env       # any free port; its settings into .env";
pub const DOCTOR: &str = "\
Examples:
  cargo kinde doctor                                  # every check, each failure with its fix
  cargo kinde doctor --profile staging
  cargo kinde doctor --json | jq '.checks[] | select(.status != \"pass\")'";
pub const COMPLETIONS: &str = "\
Examples:
  cargo-kinde completions bash > ~/.local/share/bash-completion/completions/cargo-kinde
  cargo-kinde completions zsh > ~/.zfunc/_cargo-kinde
  cargo-kinde completions fish > ~/.config/fish/completions/cargo-kinde.fish";
pub const EXPORT: &str = "\
Examples:
  cargo kinde export                                  # the tenant as kinde.toml, on stdout
  cargo kinde export --output kinde.toml              # adopt a tenant configured by hand
  cargo kinde export -o kinde.toml --force            # replace it, keeping kinde.toml.bak";
