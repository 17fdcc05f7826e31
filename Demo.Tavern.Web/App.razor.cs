using Demo.Tavern.Models;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Pastry;
using Pastry.Client;

namespace Demo.Tavern.Web;

/// <summary>
/// The page: the login form, then the map, the people here, chat, the bar and the notice board. Everything runs on
/// the browser's one thread: the client's events only mark the page dirty, and one <see cref="Task.Delay(int)"/> loop
/// redraws it (at most about seven times a second), so a busy street costs no more than that.
/// </summary>
public sealed partial class App
{
    private const int CellPixels = 44;
    private const int MapSize = CellPixels * 10;
    private const float Stride = 5f;

    private readonly CancellationTokenSource closing = new();
    private ElementReference mapElement;
    private TavernGame? game;
    private string user = string.Empty;
    private string password = string.Empty;
    private string character = string.Empty;
    private string? userError;
    private string? passwordError;
    private string? characterError;
    private string? loginError;
    private bool joining;
    private string sayText = string.Empty;
    private string? sayError;
    private string drink = "ale";
    private string? buyError;
    private string noticeText = string.Empty;
    private string? noticeError;
    private (float X, float Y)? walkTarget;
    private Task? walking;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await closing.CancelAsync();
        if (game is not null)
        {
            await game.DisposeAsync();
        }

        closing.Dispose();
    }

    /// <summary>World units to map pixels, across (the room is one cell's worth of units drawn over the whole map).</summary>
    private float Px(float x) => game!.Session.InTavern ? x * MapSize / TavernWorld.RoomSize : x * CellPixels / TavernWorld.CellSize;

    /// <summary>World units to map pixels, down (north is up).</summary>
    private float Py(float y) => MapSize - (game!.Session.InTavern ? y * MapSize / TavernWorld.RoomSize : y * CellPixels / TavernWorld.CellSize);

    private async Task JoinAsync()
    {
        userError = passwordError = characterError = loginError = null;
        user = user.Trim();
        character = character.Trim();
        if (user.Length == 0)
        {
            userError = "Enter a name.";
        }

        if (password.Length == 0)
        {
            passwordError = "Enter a password.";
        }

        if (userError is not null || passwordError is not null)
        {
            return;
        }

        joining = true;
        try
        {
            // The server that served this page also takes its WebSocket (one origin).
            var page = new Uri(Navigation.BaseUri);
            var url = new UriBuilder(page) { Scheme = page.Scheme == "https" ? "wss" : "ws", Path = "/pastry" }.Uri;
            var session = await TavernSession.JoinAsync(url, user, password, character.Length == 0 ? null : character, closing.Token);
            game = new TavernGame(session);
            _ = RedrawAsync(game);
        }
        catch (LoginFailedException ex)
        {
            // The server's rules are the truth (name length and characters, password length); show its words by the field.
            if (ex.AccountStatus == AccountStatus.InvalidUsername)
            {
                userError = ex.Message;
            }
            else
            {
                passwordError = ex.Message;
            }
        }
        catch (Exception ex) when (ex is TavernRefusedException or ModelValidationException)
        {
            characterError = ex.Message;
        }
        catch (Exception ex) when (ex is TimeoutException or System.Net.WebSockets.WebSocketException or ClientEjectedException or InvalidOperationException)
        {
            loginError = $"Cannot reach the Tavern: {ex.Message}";
        }
        finally
        {
            joining = false;
        }
    }

    /// <summary>Redraws while the page plays, when something changed; ends when the session does.</summary>
    private async Task RedrawAsync(TavernGame playing)
    {
        await InvokeAsync(StateHasChanged);
        await Task.Yield();
        try
        {
            await mapElement.FocusAsync();
        }
        catch (InvalidOperationException)
        {
            // Not rendered yet; the player clicks the map.
        }

        while (!closing.IsCancellationRequested && game == playing)
        {
            if (playing.Ended is { } why)
            {
                await playing.DisposeAsync();
                game = null;
                loginError = $"Disconnected: {why}";
                StateHasChanged();
                return;
            }

            if (playing.TakeDirty())
            {
                StateHasChanged();
            }

            try
            {
                await Task.Delay(150, closing.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void OnKey(KeyboardEventArgs key)
    {
        (float dx, float dy) = key.Key switch
        {
            "w" or "W" or "ArrowUp" => (0f, Stride),
            "s" or "S" or "ArrowDown" => (0f, -Stride),
            "a" or "A" or "ArrowLeft" => (-Stride, 0f),
            "d" or "D" or "ArrowRight" => (Stride, 0f),
            _ => (0f, 0f),
        };
        if ((dx, dy) != (0f, 0f) && game is not null)
        {
            walkTarget = null;
            Act(() => game.Session.Step(dx, dy), message => game.Told = message);
        }
    }

    private void WalkToCell(int x, int y) =>
        StartWalk(((x + 0.5f) * TavernWorld.CellSize, (y + 0.5f) * TavernWorld.CellSize));

    private void WalkTo(double pixelX, double pixelY) =>
        StartWalk(((float)(pixelX * TavernWorld.RoomSize / MapSize), (float)((MapSize - pixelY) * TavernWorld.RoomSize / MapSize)));

    /// <summary>Walks toward <paramref name="target"/> a stride at a time, at the AI's walking speed (a faster walk would be cut short).</summary>
    private void StartWalk((float X, float Y) target)
    {
        walkTarget = target;
        walking = walking is { IsCompleted: false } ? walking : WalkAsync();
    }

    private async Task WalkAsync()
    {
        var delay = TimeSpan.FromSeconds(Stride / TavernWorld.WalkingSpeed);
        bool inside = game?.Session.InTavern ?? false;
        while (walkTarget is { } target && game is { } playing && playing.Session.InTavern == inside && !closing.IsCancellationRequested)
        {
            var at = playing.Session.Position;
            float dx = target.X - at[0], dy = target.Y - at[1];
            float distance = MathF.Sqrt((dx * dx) + (dy * dy));
            if (distance < 0.5f)
            {
                break;
            }

            float step = MathF.Min(Stride, distance);
            Act(() => playing.Session.Step(dx / distance * step, dy / distance * step), message => playing.Told = message);
            try
            {
                await Task.Delay(delay, closing.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        walkTarget = null;
    }

    private async Task RunAsync(Func<CancellationToken, Task> move)
    {
        walkTarget = null;
        try
        {
            await move(closing.Token);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            game?.Tell("Nothing happened: stand at the tavern's door (its cell, or the one south of it) to go in.");
        }
    }

    private void Say()
    {
        sayError = null;
        if (Act(() => game!.Session.Say(sayText), message => sayError = message))
        {
            sayText = string.Empty;
        }
    }

    private void Buy()
    {
        buyError = null;
        Act(() => game!.Session.Buy(drink), message => buyError = message);
    }

    private void Pin()
    {
        noticeError = null;
        if (Act(() => game!.Session.Post(noticeText), message => noticeError = message))
        {
            noticeText = string.Empty;
        }
    }

    private async Task LeaveAsync()
    {
        if (game is { } playing)
        {
            game = null;
            await playing.DisposeAsync();
        }
    }

    /// <summary>
    /// Runs one of the player's actions; the client checks the arguments against the model's rules before sending
    /// (a ModelValidationException), and its message is shown beside the input it came from.
    /// </summary>
    private static bool Act(Action action, Action<string> error)
    {
        try
        {
            action();
            return true;
        }
        catch (ModelValidationException ex)
        {
            error(string.Join(" ", ex.Errors.SelectMany(e => e.Value)));
            return false;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            error(ex.Message);
            return false;
        }
    }
}
