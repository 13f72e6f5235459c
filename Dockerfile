# One image for every component of the product; docker-compose.yml picks each service's command
# (`npm run server`, `npm run ingest`, `npm run analysis`, `npm run scheduler`). Alone, it runs the
# embedded system (`npm start`: every component in one process, chDB under /app/data).
FROM node:20.19.5-bookworm-slim

ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so a source change does not reinstall them; exactly the lock file (`npm ci`).
# Production dependencies only: tsx (a runtime dependency) runs the TypeScript entry points without
# a build step.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY --chown=node:node . .
# Owned by the node user, so named volumes mounted here start writable (the outbox, the reports).
RUN mkdir -p data/outbox data/clickhouse reports

EXPOSE 8080
CMD ["npm", "start"]
