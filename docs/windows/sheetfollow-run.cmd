@echo off
rem sheetfollow's morning run, for Windows Task Scheduler (docs/scheduling.md).
rem Put this file beside sheetfollow.toml. It prints errors only (--quiet); everything
rem else goes to the run log: `sheetfollow log` shows the last runs.
rem sheetfollow.exe is where `pipx install` or `uv tool install` puts it; change
rem SHEETFOLLOW when it is elsewhere (`where sheetfollow` tells).
setlocal
set "SHEETFOLLOW=%USERPROFILE%\.local\bin\sheetfollow.exe"
cd /d "%~dp0"
"%SHEETFOLLOW%" run --quiet --config "%~dp0sheetfollow.toml"
exit /b %ERRORLEVEL%
