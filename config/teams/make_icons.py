"""Draw the Teams app icons: `python config/teams/make_icons.py` (needs Pillow).

Teams wants a 192x192 full-colour icon and a 32x32 outline icon that is white on a
transparent background. Both show three rising bars (progress) and a traffic light.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BLUE = (29, 79, 145, 255)
WHITE = (255, 255, 255, 255)
RAG = [(46, 160, 67, 255), (240, 160, 0, 255), (210, 45, 45, 255)]


def colour_icon(size: int = 192) -> Image.Image:
    scale = 4  # draw large, then shrink: smooth edges without antialiasing support
    big = size * scale
    image = Image.new("RGBA", (big, big), BLUE)
    draw = ImageDraw.Draw(image)
    unit = big / 24
    for i, height in enumerate((6, 10, 14)):  # three rising bars
        left = unit * (4 + i * 4.5)
        draw.rounded_rectangle(
            (left, unit * (19 - height), left + unit * 3, unit * 19), radius=unit * 0.6, fill=WHITE
        )
    for i, colour in enumerate(RAG):  # a traffic light on the right
        centre_y = unit * (7 + i * 4.5)
        draw.ellipse((unit * 17.5, centre_y - unit * 1.6, unit * 20.7, centre_y + unit * 1.6),
                     fill=colour, outline=WHITE, width=int(unit * 0.5))  # fmt: skip
    return image.resize((size, size), Image.LANCZOS)


def outline_icon(size: int = 32) -> Image.Image:
    scale = 8
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 32
    for i, height in enumerate((9, 15, 21)):
        left = unit * (4 + i * 7)
        draw.rectangle((left, unit * (28 - height), left + unit * 5, unit * 28), fill=WHITE)
    shrunk = image.resize((size, size), Image.LANCZOS)
    # Teams requires pure white on transparent: keep only the alpha, make colour white
    alpha = shrunk.getchannel("A")
    result = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    result.putalpha(alpha)
    return result


if __name__ == "__main__":
    colour_icon().save(HERE / "color.png", optimize=True)
    outline_icon().save(HERE / "outline.png", optimize=True)
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")
