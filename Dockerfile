# The image compose.yaml runs api, payment, notify and migrate from.
FROM oven/bun:1.4.5
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
# Patched dependencies (see patches/) are applied by the install.
COPY patches ./patches
RUN bun install --frozen-lockfile --production
COPY tsconfig.json drizzle.config.ts ./
COPY drizzle ./drizzle
COPY src ./src
COPY scripts ./scripts
USER bun
